//! What a report is: its kind, its file's format and where it stands.

crate::text_enum! {
    /// What a report shows.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum ReportKind as "report kind" {
        /// One row per recipient of a campaign: phone, name, status, attempts, sent time,
        /// error, message id, and when it was delivered, read and replied to.
        CampaignDelivery = "campaign_delivery",
        /// One row per contact of the tenant: phone, name, custom fields, creation time.
        Contacts = "contacts",
        /// One row per UTC day of a time range: campaigns created, messages sent and failed,
        /// contacts added, imports and the contacts they created.
        Usage = "usage",
        /// One row per opted-out number of the tenant: phone, time, message, account, inbox.
        OptOuts = "opt_outs",
    }
}

crate::text_enum! {
    /// How the file is written.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum ReportFormat as "report format" {
        /// A header row, then one record per row (RFC 4180).
        Csv = "csv",
        /// One array of objects, keys as the CSV's headers.
        Json = "json",
    }
}

impl ReportFormat {
    /// The file's extension, also its name in storage (`report.<ext>`).
    pub fn extension(self) -> &'static str {
        self.as_str()
    }

    /// The `Content-Type` a download is served with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Json => "application/json",
        }
    }
}

crate::text_enum! {
    /// Where a report is.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum ReportStatus as "report status" {
        Queued = "queued",
        /// The worker is writing its file.
        Running = "running",
        /// The whole file is stored and can be downloaded until `expiresAt`.
        Ready = "ready",
        /// Its job failed for good (the reason is in `statusReason`).
        Failed = "failed",
        /// Its file was deleted when it expired.
        Expired = "expired",
    }
}

impl ReportStatus {
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Ready | Self::Failed | Self::Expired)
    }
}
