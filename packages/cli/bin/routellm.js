#!/usr/bin/env node
import "../dist/bundle/routellm.js"
