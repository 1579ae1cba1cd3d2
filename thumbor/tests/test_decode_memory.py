"""The decoded images one process may hold at once (decode_memory.DecodeMemory)."""

from __future__ import annotations

import threading
import time

import pytest
from decode_memory import DecodeMemory
from refusals import Refusal


def test_decode_memory_makes_big_decodes_wait_for_each_other():
    memory = DecodeMemory(capacity=100, wait_s=5)
    memory.acquire(60)
    order: list[str] = []

    def second():
        memory.acquire(60)  # 60 + 60 > 100: waits for the first
        order.append("second admitted")
        memory.release(60)

    waiter = threading.Thread(target=second)
    waiter.start()
    time.sleep(0.2)
    assert order == [] and memory.held == 60
    order.append("first released")
    memory.release(60)
    waiter.join(2)
    assert order == ["first released", "second admitted"] and memory.held == 0


def test_decode_memory_admits_an_image_larger_than_the_budget_alone_and_refuses_after_the_wait():
    memory = DecodeMemory(capacity=100, wait_s=0.2)
    memory.acquire(500)  # alone: admitted
    with pytest.raises(Refusal) as refused:
        memory.acquire(10)
    assert (refused.value.status_code, refused.value.reason) == (503, "busy")
    memory.release(500)
    memory.acquire(10)
    assert memory.held == 10
