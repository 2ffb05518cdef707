"""The admin screen (系统管理): users, units, matters, responsibility rules and time limits, with the
kernel's checks (:mod:`callcenter.services.admin`) and the audit trail."""
