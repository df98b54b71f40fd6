//! The one mapping between enums and the text they are stored and sent as.

/// Declares an enum whose values are stored (SQL columns, JSON) and sent (the API) as text.
/// Each variant names its text once; from it the macro derives serde (each variant renamed to
/// its text), `ALL`, `as_str`, `FromStr` (unknown text is an [`UnknownVariant`] naming
/// the enum's `kind`) and `Display`, so a value is bound in SQL as `X.as_str()` and read back
/// with `parse()`. The optional `sea_orm` argument, usable only in `common` (whose `sea-orm`
/// feature it names), also derives sea-orm's `ActiveEnum` for entity columns, from the same
/// texts. A crate using it depends on `serde`. An enum the API shows says so itself, with
/// `#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]` among its attributes (as
/// `common`'s do): the macro adds no schema, so a crate without an `openapi` feature (`db`) can
/// use it.
///
/// ```
/// common::text_enum! {
///     /// Where a thing is.
///     pub enum Stage as "stage" {
///         /// Not started.
///         Waiting = "waiting",
///         Done = "done",
///     }
/// }
/// assert_eq!(Stage::ALL, [Stage::Waiting, Stage::Done]);
/// assert_eq!("done".parse::<Stage>().unwrap(), Stage::Done);
/// assert_eq!("gone".parse::<Stage>().unwrap_err().to_string(), "unknown stage `gone`");
/// ```
///
/// [`UnknownVariant`]: crate::plan::UnknownVariant
// The texts are matched as `tt`, not `literal`: a `literal` fragment reaches derive macros
// wrapped in an invisible group, which utoipa does not read (its schema would then name the
// variants instead of their texts).
#[macro_export]
macro_rules! text_enum {
    (@impls $name:ident, $kind:literal, $($variant:ident = $text:tt),+) => {
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// The text the value is stored and sent as.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::plan::UnknownVariant;

            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::plan::UnknownVariant {
                        kind: $kind,
                        value: other.to_owned(),
                    }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
    (
        sea_orm,
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $kind:literal {
            $($(#[$vmeta:meta])* $variant:ident = $text:tt),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[cfg_attr(
            feature = "sea-orm",
            derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
            sea_orm(rs_type = "String", db_type = "Text")
        )]
        $vis enum $name {
            $(
                $(#[$vmeta])*
                #[serde(rename = $text)]
                #[cfg_attr(feature = "sea-orm", sea_orm(string_value = $text))]
                $variant
            ),+
        }

        $crate::text_enum!(@impls $name, $kind, $($variant = $text),+);
    };
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $kind:literal {
            $($(#[$vmeta:meta])* $variant:ident = $text:tt),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        $vis enum $name {
            $(
                $(#[$vmeta])*
                #[serde(rename = $text)]
                $variant
            ),+
        }

        $crate::text_enum!(@impls $name, $kind, $($variant = $text),+);
    };
}
