"""Tests of the capability plugins (mirrors callcenter/plugins)."""
