//! The JSON API under `/api/v1` (issue 20), an outer layer beside `dav/`: `event` is the pure
//! conversion between stored iCalendar objects and the API's JSON events.

pub mod event;
