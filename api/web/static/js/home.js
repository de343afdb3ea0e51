// "/": send a signed-in user to their role's start page, others to sign-in.
import { auth } from "./core.js";

const user = auth.user();
location.replace(user ? auth.home(user.role) : "/signin");
