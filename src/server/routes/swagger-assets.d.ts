// Imported `with { type: "file" }`: the value is the path of the embedded copy, to hand to Bun.file.
declare module "swagger-ui-dist/swagger-ui-bundle.js" {
  const path: string;
  export default path;
}
declare module "swagger-ui-dist/swagger-ui.css" {
  const path: string;
  export default path;
}
