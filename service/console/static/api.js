// Calls to the JSON API; asks for an API key when the service answers 401.
const KEY = "tocsin.api-key";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

let pendingKey = null; // one dialog for every request that met a 401 meanwhile

function askForKey(message) {
  if (pendingKey) return pendingKey;
  const dialog = document.getElementById("key-dialog");
  const input = document.getElementById("key-input");
  document.getElementById("key-error").textContent = message || "";
  input.value = "";
  pendingKey = new Promise((resolve) => {
    dialog.addEventListener("close", function done() {
      dialog.removeEventListener("close", done);
      pendingKey = null;
      const key = input.value.trim();
      if (key) sessionStorage.setItem(KEY, key);
      resolve(Boolean(key));
    });
  });
  dialog.showModal();
  input.focus();
  return pendingKey;
}

// fetch `path` (JSON body for objects, text for strings); the parsed answer or ApiError.
export async function api(path, { method = "GET", body, params } = {}) {
  let url = path;
  if (params) {
    const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null));
    if ([...query].length) url += `?${query}`;
  }
  for (let tries = 0; ; tries++) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(KEY);
    if (key) headers.Authorization = `Bearer ${key}`;
    let payload;
    if (typeof body === "string") {
      headers["Content-Type"] = "text/plain; charset=utf-8";
      payload = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const response = await fetch(url, { method, headers, body: payload });
    if (response.status === 401 && tries < 5) {
      if (key) sessionStorage.removeItem(KEY);
      const given = await askForKey(key ? "That key was refused; try another." : "");
      if (given) continue;
    }
    const type = response.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await response.json() : await response.text();
    if (!response.ok) throw new ApiError(response.status, typeof data === "object" ? data : { detail: data });
    return data;
  }
}
