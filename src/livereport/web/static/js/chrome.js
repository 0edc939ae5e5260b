// What every signed-in page shares: who is signed in, and signing out.

import { api } from "./api.js";
import { $ } from "./dom.js";

export async function loadAccount() {
  const me = await api("/v1/me");
  $("#account-email").textContent = me.email;
  $("#signout").addEventListener("click", async () => {
    try {
      await api("/v1/signout", { method: "POST", redirect: false });
    } finally {
      location.assign("/signin");
    }
  });
  return me;
}
