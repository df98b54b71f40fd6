//! What a contact import is: where it stands, and how its file is read.

crate::text_enum! {
    /// Where an import is.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum ImportStatus as "import status" {
        Queued = "queued",
        Running = "running",
        Completed = "completed",
        /// The file could not be read as a whole (no phone column, not the declared format).
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

impl ImportStatus {
    /// The statuses an import ends in.
    pub const FINISHED: [ImportStatus; 3] = [Self::Completed, Self::Failed, Self::Cancelled];

    pub fn is_finished(self) -> bool {
        Self::FINISHED.contains(&self)
    }
}

crate::text_enum! {
    /// How the file is written.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum ImportFormat as "import format" {
        /// A header row, then one contact per record.
        Csv = "csv",
        /// One array of objects.
        Json = "json",
        /// One object per line.
        Ndjson = "ndjson",
    }
}

crate::text_enum! {
    /// What a row whose phone is already a contact does.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum OnDuplicate as "duplicate handling" {
        /// Its name and fields replace the contact's (fields are merged).
        Update = "update",
        /// It is skipped.
        Skip = "skip",
    }
}

crate::text_enum! {
    /// The file's character encoding.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum TextEncoding as "text encoding" {
        Utf8 = "utf-8",
        /// ISO-8859-1, as older spreadsheet exports write it.
        Latin1 = "latin-1",
    }
}
