"""Outgoing chat content for Telegram: Markdown → HTML, splitting, a sender that loses nothing."""

from service.telegram.format import HTMLError, escape, is_valid_html, to_telegram_html, visible_text
from service.telegram.sender import TelegramDeliveryError, TelegramSender, redact
from service.telegram.split import TELEGRAM_LIMIT, split_html, split_plain

__all__ = [
    "TELEGRAM_LIMIT",
    "HTMLError",
    "TelegramDeliveryError",
    "TelegramSender",
    "escape",
    "is_valid_html",
    "redact",
    "split_html",
    "split_plain",
    "to_telegram_html",
    "visible_text",
]
