// The password rule as the server applies it (store/metadata/users.py MIN_PASSWORD), checked in
// the page first so a mistake is shown at once; the server checks again.

export const MIN_PASSWORD = 10;

/** What is wrong with a new password and its repetition, or null. */
export function checkNewPassword(password, repeat) {
  if (password.length < MIN_PASSWORD) {
    return { field: "#new-password", message: `The new password needs at least ${MIN_PASSWORD} characters (it has ${password.length}).` };
  }
  if (password !== repeat) {
    return { field: "#repeat-password", message: "The two new passwords differ; type the same one twice." };
  }
  return null;
}
