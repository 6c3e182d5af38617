"""The only package that touches paho: the service's MQTT link and the consumer reading it."""

from lightctl.mqtt.link import IncomingMessage, MqttLink

__all__ = ["IncomingMessage", "MqttLink"]
