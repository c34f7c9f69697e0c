"""What the key-management API takes and gives."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pentad.identity import Role


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: Role
    stakeholder_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_\-]{1,64}$")

    @model_validator(mode="after")
    def _bound_roles_need_a_stakeholder(self) -> KeyIn:
        bound = self.role in (Role.provider, Role.facilitator)
        if bound and not self.stakeholder_id:
            raise ValueError(f"a {self.role.value} key must name its stakeholder_id")
        if not bound and self.stakeholder_id:
            raise ValueError(f"a {self.role.value} key is not bound to a stakeholder")
        return self


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    role: Role
    stakeholder_id: str | None
    prefix: str = Field(description="The first characters of the key, to recognise it by.")
    created_at: datetime
    revoked_at: datetime | None = None


class KeyCreated(KeyOut):
    key: str | None = Field(
        description="The key itself: shown once, in this answer only. A replay of the same "
                    "Idempotency-Key returns the record with `key` null: the gateway keeps no copy.")
