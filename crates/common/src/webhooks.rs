//! Where a webhook delivery stands.

crate::text_enum! {
    /// Where a delivery is.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum DeliveryStatus as "delivery status" {
        /// An attempt is due or under way.
        Pending = "pending",
        /// An attempt was answered 2xx.
        Delivered = "delivered",
        /// Its attempts ran out, or it cannot be attempted (refused address, endpoint disabled
        /// or answering 410).
        Failed = "failed",
    }
}
