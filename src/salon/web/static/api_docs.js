// The interactive API docs (/api/v1/docs, web/api_docs.py): starts Swagger UI, which the page loads from this
// origin. A file rather than an inline script, so the docs live under the web app's strict Content-Security-Policy.
// The options are FastAPI's defaults for its own docs page; the document's URL comes from the page.
"use strict";

const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null, // Swagger UI would otherwise send the document's URL to a public validator
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
