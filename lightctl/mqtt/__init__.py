"""The only package that touches paho: the service's MQTT link, outbox publisher, ack consumer."""

from lightctl.mqtt.link import IncomingMessage, MqttLink

__all__ = ["IncomingMessage", "MqttLink"]
