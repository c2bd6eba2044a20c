"""URL table of the local Glacier service: moto's, plus the multipart-upload resources it lacks.

Every path dispatches to the same response class; which operation a request is comes
from botocore's service model (method, URI and query), as moto routes it.
"""

from __future__ import annotations

from airflow_glacier_select.testing.responses import LocalGlacierResponse

url_bases = [r"https?://glacier\.(.+)\.amazonaws.com"]

_VAULT = "{0}/(?P<account_number>[^/]+)/vaults/(?P<vault_name>[^/]+)"

url_paths = {
    "{0}/(?P<account_number>[^/]+)/policies/data-retrieval$": LocalGlacierResponse.dispatch,
    "{0}/(?P<account_number>[^/]+)/vaults$": LocalGlacierResponse.dispatch,
    _VAULT + "$": LocalGlacierResponse.dispatch,
    _VAULT + "/archives$": LocalGlacierResponse.dispatch,
    _VAULT + "/archives/(?P<archive_id>[^/]+)$": LocalGlacierResponse.dispatch,
    _VAULT + "/multipart-uploads$": LocalGlacierResponse.dispatch,
    _VAULT + "/multipart-uploads/(?P<upload_id>[^/]+)$": LocalGlacierResponse.dispatch,
    _VAULT + "/jobs$": LocalGlacierResponse.dispatch,
    _VAULT + "/jobs/(?P<job_id>[^/]+)$": LocalGlacierResponse.dispatch,
    _VAULT + "/jobs/(?P<job_id>[^/]+)/output$": LocalGlacierResponse.dispatch,
}
