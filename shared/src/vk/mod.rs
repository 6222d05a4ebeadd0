//! VK's API as the service calls it: `notifications.sendMessage`, the readings reminders, sent
//! with the app's service token to up to [`MAX_USERS_PER_CALL`] users a call.

pub mod notifications;

pub use notifications::{MAX_USERS_PER_CALL, UserStatus, VkApiError, VkNotifier, VkSettings};
