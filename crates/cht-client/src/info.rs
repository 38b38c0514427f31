//! Version detection: `GET /api/v2/monitoring` (`version.app`), falling back to
//! `GET /api/info` (`version`). Both are public, so no login is needed to learn the version.

use serde_json::Value;

use crate::client::{ChtClient, Req};
use crate::errors::ChtError;
use crate::version::{ChtInfo, ChtVersion, VersionSource};

fn parse(
    raw: &str,
    source: VersionSource,
    couchdb: Option<String>,
    req: &Req,
) -> Result<ChtInfo, ChtError> {
    let version: ChtVersion = raw.parse().map_err(|e| ChtError::UnexpectedResponse {
        endpoint: req.endpoint(),
        status: 200,
        detail: e,
    })?;
    Ok(ChtInfo {
        version,
        raw_version: raw.to_string(),
        source,
        couchdb_version: couchdb,
    })
}

/// Reads the version string out of a monitoring answer.
pub(crate) fn from_monitoring(body: &Value) -> Option<(&str, Option<String>)> {
    let v = body.get("version")?;
    let app = v.get("app")?.as_str()?;
    let couch = v.get("couchdb").and_then(Value::as_str).map(String::from);
    Some((app, couch))
}

pub(crate) async fn detect(client: &ChtClient) -> Result<ChtInfo, ChtError> {
    let mut monitoring = Req::get("/api/v2/monitoring");
    monitoring.auth = false;
    match client.execute(monitoring).await {
        Ok(reply) => {
            let body: Value = reply.json()?;
            let req = Req::get("/api/v2/monitoring");
            if let Some((app, couch)) = from_monitoring(&body) {
                return parse(app, VersionSource::Monitoring, couch, &req);
            }
        }
        // Nothing answers at all: /api/info would fail the same way.
        Err(
            e @ (ChtError::Unreachable { .. }
            | ChtError::Timeout { .. }
            | ChtError::RateLimited { .. }),
        ) => return Err(e),
        // Monitoring blocked by a proxy, or older/odd deployments: try /api/info.
        Err(e) => tracing::debug!(error = %e, "monitoring unavailable, trying /api/info"),
    }
    let mut req = Req::get("/api/info");
    req.auth = false;
    let reply = match client.execute(req).await {
        Err(ChtError::Unauthorized { .. }) => client.execute(Req::get("/api/info")).await?,
        other => other?,
    };
    let body: Value = reply.json()?;
    let req = Req::get("/api/info");
    let raw = body.get("version").and_then(Value::as_str).ok_or_else(|| {
        ChtError::UnexpectedResponse {
            endpoint: req.endpoint(),
            status: reply.status,
            detail: "no version in the answer".into(),
        }
    })?;
    parse(raw, VersionSource::ApiInfo, None, &req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn monitoring_shape() {
        let body = json!({"version": {"app": "4.22.0", "couchdb": "3.4.2"}});
        assert_eq!(
            from_monitoring(&body),
            Some(("4.22.0", Some("3.4.2".to_string())))
        );
        assert_eq!(from_monitoring(&json!({"version": "4.22.0"})), None);
    }
}
