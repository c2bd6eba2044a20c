"""HTTP handlers of a vault's notification-configuration subresource on the local endpoint.

Set Vault Notification Configuration (PUT, 204), Get Vault Notifications (GET, 200 with
``{"SNSTopic", "Events"}``, 404 ResourceNotFoundException when none is set) and Delete
Vault Notifications (DELETE, 204), as the guide's API reference pages describe them.
"""

from __future__ import annotations

import json

from moto.core.common_types import TYPE_RESPONSE

from airflow_glacier_select.testing.errors import ServiceError, error_response, invalid, not_found
from airflow_glacier_select.testing.notifications import (
    VaultNotificationConfig,
    notification_config,
    set_notification_config,
)
from airflow_glacier_select.testing.responses import LocalGlacierResponse

__all__ = ["VaultNotificationsResponse"]

_OPERATIONS = {
    "SetVaultNotifications": "set_vault_notifications",
    "GetVaultNotifications": "get_vault_notifications",
    "DeleteVaultNotifications": "delete_vault_notifications",
}


class VaultNotificationsResponse(LocalGlacierResponse):
    def call_action(self) -> TYPE_RESPONSE:
        operation = self._get_action()
        if operation not in _OPERATIONS:
            return super().call_action()
        try:
            self._check_account()
            status, headers, body = getattr(self, _OPERATIONS[operation])()
        except ServiceError as error:
            status, headers, body = error_response(error)
            headers = {"status": str(status), **headers}
        return status, headers, body

    def set_vault_notifications(self) -> TYPE_RESPONSE:
        vault = self.backend.describe_vault(self._vault)
        try:
            document = json.loads(self.body or b"{}")
        except ValueError:
            raise invalid("The notification configuration is not valid JSON") from None
        set_notification_config(vault, VaultNotificationConfig.from_request(document))
        return 204, {"status": "204"}, ""

    def get_vault_notifications(self) -> TYPE_RESPONSE:
        vault = self.backend.describe_vault(self._vault)
        config = notification_config(vault)
        if config is None:
            raise not_found(f"No notification configuration is set for vault: {vault.arn}")
        body = json.dumps(config.to_dict())
        return 200, {"status": "200", "Content-Type": "application/json"}, body

    def delete_vault_notifications(self) -> TYPE_RESPONSE:
        set_notification_config(self.backend.describe_vault(self._vault), None)
        return 204, {"status": "204"}, ""
