"""Manifest of the reports plugin (报告): daily / weekly / monthly reports for leaders (PDF + XLSX)."""

from __future__ import annotations

from callcenter.registry import Plugin

plugin = Plugin(name="reports", summary="reports for leaders: daily, weekly, monthly (PDF, XLSX)")
