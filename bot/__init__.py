"""CallGuard: tells people whether a call or SMS is a scam, and what to do now."""

__version__ = "0.1.0"
