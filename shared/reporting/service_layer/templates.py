"""Use cases on tenant-owned templates: publish a new immutable version."""
from __future__ import annotations

import uuid

from reporting.domain.errors import ValidationFailed
from reporting.domain.template import Template, TemplateCategory, TemplateVersion, VersionStatus
from reporting.service_layer.commands import PublishTemplateVersion
from reporting.service_layer.dependencies import Dependencies
from reporting.service_layer.tenants import require_writable_tenant
from reporting.catalog.i18n import catalog_hash


def publish_template_version(cmd: PublishTemplateVersion, deps: Dependencies) -> TemplateVersion:
    """Create the tenant's template on first use, then add and publish its next version."""
    with deps.uow(cmd.tenant_id) as uow:
        require_writable_tenant(uow, cmd.tenant_id, deps.residency)
        template = uow.templates.by_key(cmd.template_key, cmd.tenant_id)
        if template is not None and template.platform_shared:
            raise ValidationFailed("a platform template's key cannot be reused by a tenant template",
                                   template_key=cmd.template_key)
        if template is None:
            template = Template(template_id=str(uuid.uuid4()), tenant_id=cmd.tenant_id, key=cmd.template_key,
                                category=TemplateCategory(cmd.category), name=cmd.name)
            uow.templates.add(template)
        version = TemplateVersion(
            template_version_id=str(uuid.uuid4()), template_id=template.template_id, tenant_id=cmd.tenant_id,
            version=uow.templates.next_version_number(template.template_id), status=VersionStatus.DRAFT,
            layout=cmd.layout, dataset_sql=cmd.dataset_sql, params_schema=dict(cmd.params_schema),
            formats=list(cmd.formats), locales=list(cmd.locales), retention_class=cmd.retention_class,
            catalog_hash=catalog_hash(cmd.locales), template_key=template.key)
        version.publish(deps.clock.now())
        uow.templates.add_version(version)
        uow.audit.append(tenant_id=cmd.tenant_id, actor=cmd.published_by, action="template.publish",
                         target_type="template_version", target_id=version.template_version_id,
                         details={"template_key": template.key, "version": version.version})
        uow.commit()
        return version
