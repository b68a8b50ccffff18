//! Export of a whole calendar collection as one iCalendar stream (GET on a calendar collection).

/// Merges the stored objects (each a VCALENDAR) into one VCALENDAR named `name`.
pub fn export_calendar(name: Option<&str>, objects: &[&[u8]]) -> String {
    let _ = (name, objects);
    todo!("calendar helper")
}
