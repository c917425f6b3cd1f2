"""Publishing APEL messages straight to ARGO AMS (the messaging service EGI's repository reads),
with `argo-ams-library`, as SSM's sender does when it talks to AMS (ssm2 `_send_msg_ams`): one
`POST https://<host>/v1/projects/<project>/topics/<topic>:publish` a message, the text base64
encoded as the message's data and the queue name as its `empaid` attribute, authenticated by the
`x-api-key` token.

The token is configured directly, or (on AWS) named: a Secrets Manager secret by its ARN, else an
SSM parameter (read with decryption), fetched once when the outbox is built.
"""

from __future__ import annotations

from typing import Any

from tally.interop.apel.outbox import PublishError, QueueNames
from tally.interop.apel.settings import AmsSettings


def ams_token(section: AmsSettings, region: str) -> str:
    """The AMS token: given, or read from Secrets Manager / SSM Parameter Store."""
    if section.token is not None:
        return section.token.get_secret_value()
    return read_secret(str(section.token_parameter), region, section.aws_endpoint_url, "the AMS token")


def read_secret(name: str, region: str, endpoint_url: str | None, what: str) -> str:
    """A secret's text: a Secrets Manager secret by its ARN, else an SSM parameter (decrypted)."""
    import boto3

    try:
        if name.startswith("arn:") and ":secretsmanager:" in name:
            client = boto3.client("secretsmanager", region_name=region, endpoint_url=endpoint_url)
            secret: str = client.get_secret_value(SecretId=name)["SecretString"]
            return secret.strip()
        client = boto3.client("ssm", region_name=region, endpoint_url=endpoint_url)
        value: str = client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        return value.strip()
    except Exception as exc:  # botocore's errors: say which name could not be read
        raise PublishError(f"could not read {what} {name!r}: {exc}") from exc


class AmsOutbox:
    """Each message published to the configured AMS topic; its AMS message id returned."""

    def __init__(self, section: AmsSettings, token: str, names: QueueNames | None = None) -> None:
        from argo_ams_library import ArgoMessagingService

        self._section = section
        self._ams: Any = ArgoMessagingService(endpoint=section.host, token=token, project=section.project)
        self._names = names or QueueNames()
        self.target = f"ams://{section.host}/{section.project}/{section.topic}"

    def add(self, text: str) -> str:
        from argo_ams_library import AmsException, AmsMessage

        section = self._section
        # The element name an SSM queue would have given it (SSM sends the dirq name as empaid).
        empaid = self._names.next().replace("/", "")
        message = AmsMessage(data=text, attributes={"empaid": empaid})
        requests_options: dict[str, Any] = {"timeout": section.timeout_seconds}
        if section.ca_bundle is not None:
            requests_options["verify"] = str(section.ca_bundle)
        try:
            answer = self._ams.publish(
                section.topic,
                message,
                retry=section.retries,
                retrysleep=section.retry_seconds,
                **requests_options,
            )
        except AmsException as exc:
            raise PublishError(f"AMS refused a message for {self.target}: {exc}") from exc
        ids = answer.get("messageIds") if isinstance(answer, dict) else None
        if not isinstance(ids, list) or len(ids) != 1:
            raise PublishError(f"AMS answered a publish without one message id: {answer!r}")
        return str(ids[0])
