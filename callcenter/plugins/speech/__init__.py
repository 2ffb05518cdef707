"""Streaming speech recognition (语音识别): Vosk and faster-whisper engines behind an AudioSocket server."""
