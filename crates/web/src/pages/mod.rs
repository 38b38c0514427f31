pub mod account;
pub mod auth;
pub mod connection;
pub mod health;
pub mod home;
pub mod instances;
pub mod tenants;
