"""Who may see a case (工单可见范围): the one rule every route that takes a case number applies — pure.

* Center staff (agent 坐席, supervisor 班长, admin) and the system see every case.
* A unit handler (承办单位) sees a case while its unit is the case's lead unit (``unit_code``) or one of
  its co-units (``co_unit_codes``, 吹哨报到). Not before dispatch, and no longer after the case was
  re-dispatched to another unit. A unit handler without a unit sees nothing.

Applied by :func:`callcenter.services.cases.get_visible_case` (read, timeline, every transition — also
``note`` — and the console's actions list) and by the console hub for case events on the live stream.

**403, not 404**, for a case that exists but is not visible: the answer (``the case is not assigned to
your unit``) carries nothing of the case. Case numbers are not secret — they are the local date plus a
daily sequence and are read out to callers — so hiding their existence would protect nothing while a
handler whose case moved to another unit gets a clear reason. 404 means no such number. The check comes
before any other (version, status, arguments), so no answer reveals a case's state to a handler who may
not see it.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Roles that see every case.
CENTER_ROLES = frozenset({"agent", "supervisor", "admin", "system"})
UNIT_ROLE = "unit_handler"

NOT_YOUR_UNIT = "the case is not assigned to your unit"


def may_see_case(
    role: str,
    user_unit_code: str | None,
    case_unit_code: str | None,
    case_co_unit_codes: Iterable[str] | None = (),
) -> bool:
    """May a user of ``role`` (and unit) see a case led by ``case_unit_code`` with these co-units?"""
    if role in CENTER_ROLES:
        return True
    if role != UNIT_ROLE or not user_unit_code:
        return False
    return user_unit_code == case_unit_code or user_unit_code in set(case_co_unit_codes or ())
