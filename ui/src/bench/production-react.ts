// First setup file of the production-React benchmark: React picks its build from NODE_ENV when it
// is first required, so this must run before anything imports it.
process.env.NODE_ENV = "production";
