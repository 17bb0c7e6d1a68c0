plugins { id("org.springframework.boot") version "3.2.0" }
java {
    toolchain { languageVersion = JavaLanguageVersion.of(17) }
}
