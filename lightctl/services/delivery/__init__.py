"""Delivery: the outbox that sends what is due, and the ledger that records what lanterns answer.

The delivery rules themselves (states, back-off, overdue verdicts) are pure code in
``domain/delivery``; this package applies them to the store. ``mqtt/`` only moves the bytes.
"""
