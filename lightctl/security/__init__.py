"""Secrets at rest and broker lock-down: password and token hashing, Mosquitto files, test PKI."""
