// What every signed-in page shares: who is signed in (a link to their account page), and
// signing out.

import { api } from "./api.js";
import { $, h } from "./dom.js";

export async function loadAccount() {
  const me = await api("/v1/me");
  const shown = $("#account-email");
  // The email is the user menu's way to the account page (password change).
  const link = h("a", {
    id: "account-email", href: "/account", class: "muted",
    title: `${me.email}: your account, to change your password`,
    "aria-current": location.pathname === "/account" ? "page" : null,
  }, me.email);
  shown.replaceWith(link);
  $("#signout").addEventListener("click", async () => {
    try {
      await api("/v1/signout", { method: "POST", redirect: false });
    } finally {
      location.assign("/signin");
    }
  });
  return me;
}
