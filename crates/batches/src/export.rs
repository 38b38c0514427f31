//! Exports of a batch, written by the portal's one CSV writer (`portal-csv`): cells as staged,
//! but never read as formulas by the spreadsheet that opens them.

use portal_staging::Validator;
use portal_store::staging::{self, BatchInfo, Status};

use crate::{BatchError, Refusal, Staging, TenantConfig};

impl Staging {
    /// The rows with errors as CSV: the original columns plus an "Errors" column, to fix
    /// offline and upload again.
    pub async fn invalid_csv(
        &self,
        info: &BatchInfo,
        config: &TenantConfig,
    ) -> Result<Result<Vec<u8>, Refusal>, BatchError> {
        let Some(kind) = config.contact_type(&info.contact_type) else {
            return Ok(Err(Refusal::UnknownType(info.contact_type.clone())));
        };
        let validator = match Validator::new(kind) {
            Ok(v) => v,
            Err(e) => return Ok(Err(Refusal::Config(e.to_string()))),
        };
        let rows = staging::all_rows(&self.db, info.id).await?;
        let mut csv = portal_csv::CsvWriter::new();
        let header: Vec<&str> = validator
            .columns()
            .iter()
            .map(|c| c.header.as_str())
            .chain(std::iter::once(portal_staging::ERRORS_HEADER))
            .collect();
        csv.row(&header);
        for row in rows.iter().filter(|r| r.status == Status::Error) {
            let errors: Vec<String> = row
                .problems
                .iter()
                .map(|p| match &p.column {
                    Some(c) => format!("{c}: {} ({}) {}", p.message, p.value, p.fix),
                    None => format!("{} {}", p.message, p.fix),
                })
                .collect();
            let mut record: Vec<&str> = row.raw.iter().map(String::as_str).collect();
            record.resize(header.len() - 1, "");
            let errors = errors.join(" | ");
            record.push(&errors);
            csv.row(record);
        }
        Ok(Ok(csv.into_bytes()))
    }
}
