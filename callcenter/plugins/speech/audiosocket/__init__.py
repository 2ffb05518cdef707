"""Asterisk AudioSocket server (AudioSocket 音频流服务)."""
