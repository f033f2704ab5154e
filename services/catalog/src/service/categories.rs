//! Use cases of the category tree (admins).

use chrono::Utc;
use uuid::Uuid;

use super::{Catalog, Viewer, not_found, require_admin, scoped_key};
use crate::cache::CatalogCache;
use crate::domain::{CatalogError, Category, NewCategory, slugify};
use crate::store::{CatalogStore, StoreError};

impl<S: CatalogStore, C: CatalogCache> Catalog<S, C> {
    /// One category.
    pub async fn category(&self, id: Uuid) -> Result<Category, CatalogError> {
        self.tree()
            .await?
            .get(id)
            .cloned()
            .ok_or_else(|| not_found("category", id))
    }

    /// Creates a category (admins).
    pub async fn create_category(
        &self,
        viewer: &Viewer,
        mut fields: NewCategory,
        request_id: Option<&str>,
    ) -> Result<Category, CatalogError> {
        require_admin(viewer)?;
        let request_id = scoped_key(viewer, request_id);
        let request_id = request_id.as_deref();
        if let Some(key) = request_id
            && let Some(existing) = self.store.category_by_request_id(key).await?
        {
            return Ok(existing);
        }
        if fields.slug.is_empty() {
            fields.slug = slugify(&fields.display_name);
        }
        fields.validate()?;
        self.tree().await?.check_parent(None, fields.parent_id)?;
        let now = Utc::now();
        let category = Category {
            id: Uuid::now_v7(),
            fields,
            created_at: now,
            updated_at: now,
        };
        self.store
            .insert_category(&category, request_id)
            .await
            .map_err(|error| match error {
                StoreError::Conflict(what) => {
                    CatalogError::AlreadyExists(format!("a category with this {what} exists"))
                }
                other => other.into(),
            })?;
        self.cache.forget_categories().await;
        Ok(category)
    }

    /// Replaces a category's fields (admins); a move under its own subtree is refused.
    pub async fn update_category(
        &self,
        viewer: &Viewer,
        id: Uuid,
        fields: NewCategory,
    ) -> Result<Category, CatalogError> {
        require_admin(viewer)?;
        fields.validate()?;
        let tree = self.tree().await?;
        let current = tree
            .get(id)
            .cloned()
            .ok_or_else(|| not_found("category", id))?;
        tree.check_parent(Some(id), fields.parent_id)?;
        let updated = Category {
            fields,
            updated_at: Utc::now(),
            ..current
        };
        let replaced =
            self.store
                .replace_category(&updated)
                .await
                .map_err(|error| match error {
                    StoreError::Conflict(_) => {
                        CatalogError::AlreadyExists("a category with this slug exists".into())
                    }
                    other => other.into(),
                })?;
        if !replaced {
            return Err(not_found("category", id));
        }
        self.cache.forget_categories().await;
        // Category names and ancestry are part of every product document in the index.
        self.rebuild_index().await?;
        Ok(updated)
    }

    /// Deletes an empty leaf category (admins).
    pub async fn delete_category(&self, viewer: &Viewer, id: Uuid) -> Result<(), CatalogError> {
        require_admin(viewer)?;
        let tree = self.tree().await?;
        if tree.get(id).is_none() {
            return Ok(());
        }
        if tree.has_children(id) || self.store.category_in_use(id).await? {
            return Err(CatalogError::FailedPrecondition(
                "only a category without subcategories and products can be deleted".into(),
            ));
        }
        self.store.delete_category(id).await?;
        self.cache.forget_categories().await;
        Ok(())
    }
}
