// Swagger UI over /openapi.json; the console's API key (if any) rides along.
"use strict";
window.SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#ui",
  requestInterceptor: (request) => {
    const key = sessionStorage.getItem("tocsin.api-key");
    if (key && !request.headers.Authorization) request.headers.Authorization = `Bearer ${key}`;
    return request;
  },
});
