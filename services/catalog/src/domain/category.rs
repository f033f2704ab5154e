//! The category tree (Fruit > Tropical > Mangoes), kept as data.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CatalogError, Violations, is_valid_slug};

/// What an admin sets on a category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCategory {
    /// Name shown to shoppers, 1..=100 characters.
    pub display_name: String,
    /// URL slug, unique.
    pub slug: String,
    /// Parent; `None` at the top level.
    pub parent_id: Option<Uuid>,
    /// At most 1000 characters.
    pub description: String,
    /// https link or empty.
    pub image_url: String,
    /// Position among siblings.
    pub sort_order: i32,
}

impl NewCategory {
    /// Checks the field rules (the parent's existence is the tree's job).
    pub fn validate(&self) -> Result<(), CatalogError> {
        let mut v = Violations::default();
        let name = self.display_name.trim();
        v.check(
            name.is_empty(),
            "category.display_name",
            "must not be empty",
        );
        v.check(
            name.chars().count() > 100,
            "category.display_name",
            "must be at most 100 characters",
        );
        v.check(
            !is_valid_slug(&self.slug),
            "category.slug",
            "must be lower-case letters, digits and single hyphens",
        );
        v.check(
            self.description.chars().count() > 1000,
            "category.description",
            "must be at most 1000 characters",
        );
        v.check(
            !self.image_url.is_empty() && !self.image_url.starts_with("https://"),
            "category.image_url",
            "must be an https link or empty",
        );
        v.into_result(())
    }
}

impl NewCategory {
    /// `self` with the fields named by an update mask taken from `new`; an empty mask or
    /// a path that is not settable is refused.
    pub fn merge(self, new: NewCategory, paths: &[String]) -> Result<NewCategory, CatalogError> {
        if paths.is_empty() {
            return Err(CatalogError::invalid(
                "update_mask",
                "must name at least one field",
            ));
        }
        let mut merged = self;
        for path in paths {
            match path.as_str() {
                "display_name" => merged.display_name = new.display_name.clone(),
                "slug" => merged.slug = new.slug.clone(),
                "parent_id" => merged.parent_id = new.parent_id,
                "description" => merged.description = new.description.clone(),
                "image_url" => merged.image_url = new.image_url.clone(),
                "sort_order" => merged.sort_order = new.sort_order,
                other => {
                    return Err(CatalogError::invalid(
                        "update_mask",
                        format!("{other:?} is not a field that can be updated"),
                    ));
                }
            }
        }
        Ok(merged)
    }
}

/// A category as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// UUIDv7.
    pub id: Uuid,
    /// What the admin set.
    pub fields: NewCategory,
    /// Creation time (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
}

/// The whole tree, for ancestor and descendant questions.
#[derive(Debug, Clone, Default)]
pub struct CategoryTree {
    by_id: HashMap<Uuid, Category>,
}

impl CategoryTree {
    /// Builds the tree from every category.
    pub fn new(categories: impl IntoIterator<Item = Category>) -> Self {
        Self {
            by_id: categories.into_iter().map(|c| (c.id, c)).collect(),
        }
    }

    /// The category with `id`.
    pub fn get(&self, id: Uuid) -> Option<&Category> {
        self.by_id.get(&id)
    }

    /// Every category, by sort order then name.
    pub fn sorted(&self) -> Vec<&Category> {
        let mut all: Vec<&Category> = self.by_id.values().collect();
        all.sort_by(|a, b| {
            (a.fields.sort_order, &a.fields.display_name, a.id).cmp(&(
                b.fields.sort_order,
                &b.fields.display_name,
                b.id,
            ))
        });
        all
    }

    /// Ids from the top level down to the parent of `id`.
    pub fn ancestors(&self, id: Uuid) -> Vec<Uuid> {
        let mut chain = Vec::new();
        let mut next = self.get(id).and_then(|c| c.fields.parent_id);
        while let Some(parent) = next {
            // A corrupt cycle must not hang the server.
            if chain.contains(&parent) || chain.len() > self.by_id.len() {
                break;
            }
            chain.push(parent);
            next = self.get(parent).and_then(|c| c.fields.parent_id);
        }
        chain.reverse();
        chain
    }

    /// `id` and every category below it.
    pub fn subtree(&self, id: Uuid) -> Vec<Uuid> {
        let mut found = vec![id];
        let mut index = 0;
        while index < found.len() {
            let parent = found[index];
            found.extend(
                self.by_id
                    .values()
                    .filter(|c| c.fields.parent_id == Some(parent))
                    .map(|c| c.id),
            );
            index += 1;
        }
        found
    }

    /// Whether `id` has children.
    pub fn has_children(&self, id: Uuid) -> bool {
        self.by_id.values().any(|c| c.fields.parent_id == Some(id))
    }

    /// Checks that `parent` exists and that putting `id` under it makes no cycle.
    pub fn check_parent(&self, id: Option<Uuid>, parent: Option<Uuid>) -> Result<(), CatalogError> {
        let Some(parent) = parent else {
            return Ok(());
        };
        if self.get(parent).is_none() {
            return Err(CatalogError::invalid(
                "category.parent_id",
                "must name an existing category",
            ));
        }
        if let Some(id) = id
            && self.subtree(id).contains(&parent)
        {
            return Err(CatalogError::invalid(
                "category.parent_id",
                "must not be the category itself or one of its descendants",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn category(name: &str, parent: Option<Uuid>) -> Category {
        Category {
            id: Uuid::now_v7(),
            fields: NewCategory {
                display_name: name.into(),
                slug: super::super::slugify(name),
                parent_id: parent,
                description: String::new(),
                image_url: String::new(),
                sort_order: 0,
            },
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn the_tree_knows_ancestors_and_subtrees() {
        let fruit = category("Fruit", None);
        let tropical = category("Tropical", Some(fruit.id));
        let mangoes = category("Mangoes", Some(tropical.id));
        let veg = category("Vegetables", None);
        let tree = CategoryTree::new([
            fruit.clone(),
            tropical.clone(),
            mangoes.clone(),
            veg.clone(),
        ]);
        assert_eq!(tree.ancestors(mangoes.id), [fruit.id, tropical.id]);
        let mut below = tree.subtree(fruit.id);
        below.sort();
        let mut expected = vec![fruit.id, tropical.id, mangoes.id];
        expected.sort();
        assert_eq!(below, expected);
        assert!(tree.check_parent(Some(fruit.id), Some(mangoes.id)).is_err());
        assert!(tree.check_parent(Some(mangoes.id), Some(veg.id)).is_ok());
        assert!(tree.check_parent(None, Some(Uuid::now_v7())).is_err());
    }
}
