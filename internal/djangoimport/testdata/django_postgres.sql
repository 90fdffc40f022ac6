-- Made by gen_fixture.py: manage.py sqlmigrate on Django 3.2.25's Postgres backend.
CREATE TABLE django_migrations (id serial PRIMARY KEY, app varchar(255) NOT NULL, name varchar(255) NOT NULL, applied timestamp with time zone NOT NULL);
BEGIN;
--
-- Create model ContentType
--
CREATE TABLE "django_content_type" ("id" serial NOT NULL PRIMARY KEY, "name" varchar(100) NOT NULL, "app_label" varchar(100) NOT NULL, "model" varchar(100) NOT NULL);
--
-- Alter unique_together for contenttype (1 constraint(s))
--
ALTER TABLE "django_content_type" ADD CONSTRAINT "django_content_type_app_label_model_76bd3d3b_uniq" UNIQUE ("app_label", "model");
COMMIT;
BEGIN;
--
-- Change Meta options on contenttype
--
--
-- Alter field name on contenttype
--
ALTER TABLE "django_content_type" ALTER COLUMN "name" DROP NOT NULL;
--
-- MIGRATION NOW PERFORMS OPERATION THAT CANNOT BE WRITTEN AS SQL:
-- Raw Python operation
--
--
-- Remove field name from contenttype
--
ALTER TABLE "django_content_type" DROP COLUMN "name" CASCADE;
COMMIT;
BEGIN;
--
-- Create model Permission
--
CREATE TABLE "auth_permission" ("id" serial NOT NULL PRIMARY KEY, "name" varchar(50) NOT NULL, "content_type_id" integer NOT NULL, "codename" varchar(100) NOT NULL);
--
-- Create model Group
--
CREATE TABLE "auth_group" ("id" serial NOT NULL PRIMARY KEY, "name" varchar(80) NOT NULL UNIQUE);
CREATE TABLE "auth_group_permissions" ("id" serial NOT NULL PRIMARY KEY, "group_id" integer NOT NULL, "permission_id" integer NOT NULL);
--
-- Create model User
--
ALTER TABLE "auth_permission" ADD CONSTRAINT "auth_permission_content_type_id_codename_01ab375a_uniq" UNIQUE ("content_type_id", "codename");
ALTER TABLE "auth_permission" ADD CONSTRAINT "auth_permission_content_type_id_2f476e4b_fk_django_co" FOREIGN KEY ("content_type_id") REFERENCES "django_content_type" ("id") DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX "auth_permission_content_type_id_2f476e4b" ON "auth_permission" ("content_type_id");
CREATE INDEX "auth_group_name_a6ea08ec_like" ON "auth_group" ("name" varchar_pattern_ops);
ALTER TABLE "auth_group_permissions" ADD CONSTRAINT "auth_group_permissions_group_id_permission_id_0cd325b0_uniq" UNIQUE ("group_id", "permission_id");
ALTER TABLE "auth_group_permissions" ADD CONSTRAINT "auth_group_permissions_group_id_b120cbf9_fk_auth_group_id" FOREIGN KEY ("group_id") REFERENCES "auth_group" ("id") DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE "auth_group_permissions" ADD CONSTRAINT "auth_group_permissio_permission_id_84c5c92e_fk_auth_perm" FOREIGN KEY ("permission_id") REFERENCES "auth_permission" ("id") DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX "auth_group_permissions_group_id_b120cbf9" ON "auth_group_permissions" ("group_id");
CREATE INDEX "auth_group_permissions_permission_id_84c5c92e" ON "auth_group_permissions" ("permission_id");
COMMIT;
BEGIN;
--
-- Alter field name on permission
--
ALTER TABLE "auth_permission" ALTER COLUMN "name" TYPE varchar(255);
COMMIT;
BEGIN;
--
-- Alter field email on user
--
COMMIT;
BEGIN;
--
-- Alter field username on user
--
COMMIT;
BEGIN;
--
-- Alter field last_login on user
--
COMMIT;
BEGIN;
--
-- Alter field username on user
--
COMMIT;
BEGIN;
--
-- Alter field username on user
--
COMMIT;
BEGIN;
--
-- Alter field last_name on user
--
COMMIT;
BEGIN;
--
-- Alter field name on group
--
ALTER TABLE "auth_group" ALTER COLUMN "name" TYPE varchar(150);
COMMIT;
BEGIN;
--
-- MIGRATION NOW PERFORMS OPERATION THAT CANNOT BE WRITTEN AS SQL:
-- Raw Python operation
--
COMMIT;
BEGIN;
--
-- Alter field first_name on user
--
COMMIT;
BEGIN;
--
-- Create model User
--
CREATE TABLE "djangojwtapp_user" ("id" serial NOT NULL PRIMARY KEY, "password" varchar(128) NOT NULL, "last_login" timestamp with time zone NULL, "first_name" varchar(150) NOT NULL, "last_name" varchar(150) NOT NULL, "name" varchar(100) NOT NULL, "email" varchar(100) NOT NULL UNIQUE, "date_joined" timestamp with time zone NOT NULL, "is_admin" boolean NOT NULL, "is_active" boolean NOT NULL, "is_staff" boolean NOT NULL, "is_superuser" boolean NOT NULL);
CREATE TABLE "djangojwtapp_user_groups" ("id" serial NOT NULL PRIMARY KEY, "user_id" integer NOT NULL, "group_id" integer NOT NULL);
CREATE TABLE "djangojwtapp_user_user_permissions" ("id" serial NOT NULL PRIMARY KEY, "user_id" integer NOT NULL, "permission_id" integer NOT NULL);
CREATE INDEX "djangojwtapp_user_email_3dc44506_like" ON "djangojwtapp_user" ("email" varchar_pattern_ops);
ALTER TABLE "djangojwtapp_user_groups" ADD CONSTRAINT "djangojwtapp_user_groups_user_id_group_id_1d8a309a_uniq" UNIQUE ("user_id", "group_id");
ALTER TABLE "djangojwtapp_user_groups" ADD CONSTRAINT "djangojwtapp_user_gr_user_id_f3f7bcbe_fk_djangojwt" FOREIGN KEY ("user_id") REFERENCES "djangojwtapp_user" ("id") DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE "djangojwtapp_user_groups" ADD CONSTRAINT "djangojwtapp_user_groups_group_id_4312d34c_fk_auth_group_id" FOREIGN KEY ("group_id") REFERENCES "auth_group" ("id") DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX "djangojwtapp_user_groups_user_id_f3f7bcbe" ON "djangojwtapp_user_groups" ("user_id");
CREATE INDEX "djangojwtapp_user_groups_group_id_4312d34c" ON "djangojwtapp_user_groups" ("group_id");
ALTER TABLE "djangojwtapp_user_user_permissions" ADD CONSTRAINT "djangojwtapp_user_user_p_user_id_permission_id_460106e4_uniq" UNIQUE ("user_id", "permission_id");
ALTER TABLE "djangojwtapp_user_user_permissions" ADD CONSTRAINT "djangojwtapp_user_us_user_id_296496e7_fk_djangojwt" FOREIGN KEY ("user_id") REFERENCES "djangojwtapp_user" ("id") DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE "djangojwtapp_user_user_permissions" ADD CONSTRAINT "djangojwtapp_user_us_permission_id_bdcc2256_fk_auth_perm" FOREIGN KEY ("permission_id") REFERENCES "auth_permission" ("id") DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX "djangojwtapp_user_user_permissions_user_id_296496e7" ON "djangojwtapp_user_user_permissions" ("user_id");
CREATE INDEX "djangojwtapp_user_user_permissions_permission_id_bdcc2256" ON "djangojwtapp_user_user_permissions" ("permission_id");
COMMIT;
