"""Call recordings (通话录音): collected from Asterisk after hangup, kept under a storage root with a
retention period, linked to the call and its case, played in the case detail (audited)."""
