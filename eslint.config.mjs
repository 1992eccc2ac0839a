// Lint: typescript-eslint's recommended rules plus the Effect community's
// plugin (@effect/eslint-plugin: dprint formatting in the Effect house style).
import * as effect from "@effect/eslint-plugin"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "runs/**", "out/**", "coverage/**"] },
  ...tseslint.configs.recommended,
  ...effect.configs.dprint,
  // CommonJS files (worker entries run without a loader) use require().
  { files: ["**/*.cjs"], rules: { "@typescript-eslint/no-require-imports": "off" } },
  {
    files: ["**/*.ts", "**/*.mjs", "**/*.js", "**/*.cjs"],
    rules: {
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 160,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }],
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }]
    }
  }
)
