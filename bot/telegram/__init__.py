"""The Telegram layer: handlers translate between chat and the application."""
