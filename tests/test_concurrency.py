"""The update processor: one user's updates in order, users in parallel, expensive users held to a share."""

from __future__ import annotations

import asyncio

from telegram import Update

from callguard.telegram.concurrency import PerUserUpdateProcessor


def update_from(user_id: int, update_id: int) -> Update:
    return Update.de_json({"update_id": update_id, "message": {
        "message_id": update_id, "date": 1, "text": "x", "chat": {"id": user_id, "type": "private"},
        "from": {"id": user_id, "is_bot": False, "first_name": "x"}}}, None)


async def test_expensive_users_hold_at_most_a_quarter_of_the_slots():
    """Twenty expensive users whose updates all wait (for the detection workers, say) must not
    take every slot: another user's update is handled at once."""
    processor = PerUserUpdateProcessor(8, heavy=lambda user_id: user_id >= 100)
    release = asyncio.Event()
    running: list[int] = []

    async def work(user_id: int) -> None:
        running.append(user_id)
        if user_id >= 100:
            await release.wait()

    heavy = [asyncio.create_task(processor.process_update(update_from(uid, uid), work(uid)))
             for uid in range(100, 120)]
    await asyncio.sleep(0.05)
    assert len(running) == processor.heavy_slots == 2
    await asyncio.wait_for(processor.process_update(update_from(7, 1), work(7)), 1)  # not held up
    assert running[-1] == 7
    release.set()
    await asyncio.gather(*heavy)
    assert sorted(running) == [7, *range(100, 120)]
    assert processor._locks == {}


async def test_one_users_updates_run_in_order_others_in_parallel():
    processor = PerUserUpdateProcessor(4)
    order: list[tuple[int, int]] = []

    async def work(user_id: int, n: int) -> None:
        await asyncio.sleep(0.01 * (3 - n))  # later updates would finish first if run in parallel
        order.append((user_id, n))

    await asyncio.gather(*(processor.process_update(update_from(uid, uid * 10 + n), work(uid, n))
                           for n in range(3) for uid in (1, 2)))
    assert [n for uid, n in order if uid == 1] == [0, 1, 2]
    assert [n for uid, n in order if uid == 2] == [0, 1, 2]
