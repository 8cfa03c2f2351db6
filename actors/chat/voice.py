"""Voice messages: transcribed on this machine and sent to the active session as if typed. The
chat shows what was heard first, so a misheard word can be corrected with the next message.

Transcribing holds the chat's mailbox, as saving a file does, so a voice message keeps its
place among the user's other messages. Where voice is off or a recording cannot be
transcribed, the chat says why in one sentence and the recording is saved like any file.
"""

from __future__ import annotations

from actors.chat import turns, uploads
from actors.chat.context import ChatContext
from actors.chat.inbound import FileArrived, VoiceArrived
from actors.chat.transcription import TranscriptionFailed, VoiceUnavailable


async def hear(chat: ChatContext, msg: VoiceArrived) -> None:
    active = chat.active()
    if active is None:
        await chat.offer_sessions("No active session to send the voice message to. Pick one:")
        return
    try:
        transcript = await chat.transcriber.transcribe(msg.data, msg.filename)
    except (VoiceUnavailable, TranscriptionFailed) as exc:
        await chat.say(str(exc))
        saved = FileArrived(msg.user_id, msg.filename, msg.data, "", msg.correlation_id)
        await uploads.save(chat, saved)
        return
    text = transcript.text.strip()
    if not text:
        await chat.say("No words were heard in that voice message; nothing was sent.")
        return
    await chat.say(f"🎤 {text}")
    await turns.queue(chat, active, text, msg.correlation_id)
