// The account page: who is signed in, and changing the password (POST /v1/me/password).

import { api } from "./api.js";
import { loadAccount } from "./chrome.js";
import { $ } from "./dom.js";
import { checkNewPassword } from "./passwords.js";

const ROLES = {
  admin: "Admin: everything, and manages the org's users and API keys",
  editor: "Editor: reads every report and arranges their own dashboards",
  viewer: "Viewer: reads every report",
};

const form = $("#password-form");
const error = $("#password-error");
const done = $("#password-done");
const submit = $("#password-submit");

function fail(message, field) {
  error.textContent = message;
  if (field) $(field).focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  done.hidden = true;
  const current = $("#current-password").value;
  const fresh = $("#new-password").value;
  const repeat = $("#repeat-password").value;
  if (!current) return fail("Enter your current password.", "#current-password");
  const problem = checkNewPassword(fresh, repeat);
  if (problem) return fail(problem.message, problem.field);
  if (fresh === current) return fail("The new password is your current one; choose a different one.", "#new-password");
  submit.disabled = true;
  error.textContent = "";
  try {
    const body = { current_password: current, new_password: fresh };
    const result = await api("/v1/me/password", { method: "POST", body });
    form.reset();
    const others = result.other_sessions_ended;
    done.textContent = "Your password is changed. " + (others === 1
      ? "1 other session was signed out."
      : `${others} other sessions were signed out.`);
    done.hidden = false;
    done.focus();
  } catch (err) {
    const field = err.message.startsWith("current_password") ? "#current-password"
      : err.message.startsWith("new_password") ? "#new-password" : null;
    fail(err.status === 0 ? err.message : `Not changed: ${err.message}`, field);
  } finally {
    submit.disabled = false;
  }
});

loadAccount().then((me) => {
  $("#me-email").textContent = me.email;
  $("#me-role").textContent = ROLES[me.role] || me.role;
  $("#username").value = me.email;  // for password managers
}).catch(() => {});
