//! The attributes every OCSF record starts with — class, category, activity, type and severity —
//! in one struct shared by the four classes laneguard writes, so the class and category numbers
//! and the `type_uid` arithmetic live in one place.

use serde::Serialize;

/// The OCSF 1.8.0 classes laneguard emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OcsfClass {
    /// 2004, category 2 Findings.
    DetectionFinding,
    /// 6005, category 6 Application Activity.
    DatastoreActivity,
    /// 6003, category 6 Application Activity.
    ApiActivity,
    /// 4001, category 4 Network Activity.
    NetworkActivity,
}

impl OcsfClass {
    /// `class_uid`.
    pub fn uid(self) -> u32 {
        match self {
            OcsfClass::DetectionFinding => 2004,
            OcsfClass::DatastoreActivity => 6005,
            OcsfClass::ApiActivity => 6003,
            OcsfClass::NetworkActivity => 4001,
        }
    }

    /// `class_name`.
    pub fn name(self) -> &'static str {
        match self {
            OcsfClass::DetectionFinding => "Detection Finding",
            OcsfClass::DatastoreActivity => "Datastore Activity",
            OcsfClass::ApiActivity => "API Activity",
            OcsfClass::NetworkActivity => "Network Activity",
        }
    }

    /// `category_uid` and `category_name`.
    pub fn category(self) -> (u8, &'static str) {
        match self {
            OcsfClass::DetectionFinding => (2, "Findings"),
            OcsfClass::DatastoreActivity | OcsfClass::ApiActivity => (6, "Application Activity"),
            OcsfClass::NetworkActivity => (4, "Network Activity"),
        }
    }
}

/// The first ten attributes of every record, flattened into it.
#[derive(Debug, Serialize)]
pub struct Header<'a> {
    /// The class.
    pub class_uid: u32,
    /// Its caption.
    pub class_name: &'static str,
    /// The class's category.
    pub category_uid: u8,
    /// Its caption.
    pub category_name: &'static str,
    /// The activity within the class (see `docs/OCSF.md`).
    pub activity_id: u8,
    /// Its caption (for Datastore Activity 99 Other: the SQL command).
    pub activity_name: &'a str,
    /// `class_uid * 100 + activity_id`.
    pub type_uid: u32,
    /// `<class name>: <activity caption>`.
    pub type_name: &'static str,
    /// Findings: from the rule's severity; activity records: 1 Informational (a record of
    /// activity is not a judgement).
    pub severity_id: u8,
    /// Caption of `severity_id`.
    pub severity: &'static str,
}

impl<'a> Header<'a> {
    /// The header of a record of `class`.
    pub fn new(
        class: OcsfClass,
        activity: (u8, &'a str),
        type_name: &'static str,
        severity: (u8, &'static str),
    ) -> Self {
        let (category_uid, category_name) = class.category();
        Header {
            class_uid: class.uid(),
            class_name: class.name(),
            category_uid,
            category_name,
            activity_id: activity.0,
            activity_name: activity.1,
            type_uid: class.uid() * 100 + u32::from(activity.0),
            type_name,
            severity_id: severity.0,
            severity: severity.1,
        }
    }

    /// The header of an activity record (severity 1 Informational).
    pub fn activity(class: OcsfClass, activity: (u8, &'a str), type_name: &'static str) -> Self {
        Header::new(class, activity, type_name, (1, "Informational"))
    }
}
