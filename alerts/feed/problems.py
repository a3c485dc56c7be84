"""The one shape of a refusal: an HTTPException whose detail says what went wrong in 中文 and
English, with a code a client can branch on (models.Problem)."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException


def problem(status_code: int, code: str, zh: str, en: str,
            headers: dict[str, str] | None = None, **extra: Any) -> HTTPException:
    return HTTPException(status_code, {"code": code, "zh": zh, "en": en, **extra},
                         headers=headers)


def no_such_alert() -> HTTPException:
    return problem(404, "not_found", "没有该告警", "no such alert")


def no_such_person() -> HTTPException:
    return problem(404, "not_found", "没有该社区矫正对象", "no such person")


def forbidden_unless_lead() -> HTTPException:
    return problem(403, "forbidden", "需要值班长或系统管理员权限",
                   "supervisor or admin role required")
