"""Browser softphone of the console (网页软电话): WebRTC endpoints, per-login credentials, the page script."""
