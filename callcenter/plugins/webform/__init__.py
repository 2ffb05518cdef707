"""Public web form (网站填报) and the Open311 GeoReport v2 API (微信小程序, third-party apps)."""
