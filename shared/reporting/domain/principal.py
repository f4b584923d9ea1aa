"""Who is calling: the tenant, roles and hotels an authenticated user may act on (SPEC §6)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from reporting.domain.errors import AuthzDenied


class Role(StrEnum):
    """Roles nest: admin can do everything an operator can, an operator everything a viewer can."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def includes(self, other: Role) -> bool:
        """True when holding this role grants `other`."""
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


@dataclass(frozen=True)
class Principal:
    """An authenticated user of one tenant; `property_ids` None means every hotel of the tenant."""

    subject: str
    tenant_id: str
    roles: frozenset[Role]
    property_ids: frozenset[str] | None
    issuer: str
    email: str | None = None

    def has(self, role: Role) -> bool:
        return any(held.includes(role) for held in self.roles)

    def require(self, role: Role) -> None:
        """Raise AuthzDenied (403) unless one of the roles grants `role`."""
        if not self.has(role):
            # Subject and email stay out of the message: it reaches the client and the logs.
            raise AuthzDenied(f"role {role.value} required", required_role=role.value)

    def may_access_property(self, property_id: str) -> bool:
        if self.property_ids is None:
            return True
        # Ids are canonical lower-case UUID strings once verified; callers may hold upper-case ones.
        return property_id.lower() in self.property_ids

    def require_property(self, property_id: str) -> None:
        """Raise AuthzDenied (403) unless the user may act on this hotel."""
        if not self.may_access_property(property_id):
            raise AuthzDenied("property not allowed for this user")
