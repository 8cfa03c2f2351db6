"""Outgoing chat content for Telegram: Markdown → text and entities, split, sent without loss."""

from service.telegram.format import messages_for, plain_messages
from service.telegram.rendered import Entity, Message
from service.telegram.sender import TelegramDeliveryError, TelegramSender, redact
from service.telegram.split import TELEGRAM_LIMIT, split_plain

__all__ = [
    "TELEGRAM_LIMIT",
    "Entity",
    "Message",
    "TelegramDeliveryError",
    "TelegramSender",
    "messages_for",
    "plain_messages",
    "redact",
    "split_plain",
]
