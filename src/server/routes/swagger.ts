// Imported as files so that `bun build --compile` embeds them: the Swagger UI works with no network at all.
import bundlePath from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import cssPath from "swagger-ui-dist/swagger-ui.css" with { type: "file" };
import openapiText from "../openapi.yaml" with { type: "text" };

/** The API's contract, as served at /swagger/openapi.yaml. */
export const OPENAPI_YAML: string = openapiText;

const INDEX = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>pp API</title><link rel="icon" href="data:,"><link rel="stylesheet" href="swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="swagger-ui-bundle.js" charset="utf-8"></script>
<script src="init.js" charset="utf-8"></script>
</body></html>`;

// validatorUrl null: the default badge would ask validator.swagger.io about the document, a call out of an offline host.
const INIT = `window.ui = SwaggerUIBundle({ url: "openapi.yaml", dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout" });`;

const ASSET_CACHE = "public, max-age=86400";

/** GET /swagger/... : the Swagger UI page, its assets and the OpenAPI document; null for any other path. */
export function swaggerRoute(url: URL): Response | null {
  switch (url.pathname) {
    case "/swagger":
      return new Response(null, { status: 308, headers: { location: "/swagger/" } });
    case "/swagger/":
    case "/swagger/index.html":
      return new Response(INDEX, { headers: { "content-type": "text/html; charset=utf-8", "x-content-type-options": "nosniff", "cache-control": "no-cache" } });
    case "/swagger/init.js":
      return asset(INIT, "text/javascript; charset=utf-8");
    // A charset is a must: decoded as Latin-1, the bundle's UTF-8 breaks the script and the page stays blank.
    case "/swagger/swagger-ui-bundle.js":
      return asset(Bun.file(bundlePath), "text/javascript; charset=utf-8");
    case "/swagger/swagger-ui.css":
      return asset(Bun.file(cssPath), "text/css; charset=utf-8");
    case "/swagger/openapi.yaml":
      return new Response(OPENAPI_YAML, { headers: { "content-type": "application/yaml; charset=utf-8", "x-content-type-options": "nosniff", "cache-control": "no-cache" } });
    default:
      return null;
  }
}

function asset(body: Blob | string, type: string): Response {
  return new Response(body, { headers: { "content-type": type, "cache-control": ASSET_CACHE, "x-content-type-options": "nosniff" } });
}
